"""Runs any Pulumi Python program under the Pulumi SDK's own mocks, and reads what it declares:
`python -m ai_etl.offline render|diff`. It imports nothing of the project around it but the one
masking rule (`ai_etl.masking`), by which it hides credentials in what it renders.

- `stackconfig`: the project's files as the CLI reads them (Pulumi.yaml, Pulumi.<stack>.yaml), its
  checks of declared config, and the config handed to the program; `placeholders`: stand-ins for
  what only the stack's secrets provider could decrypt.
- `runner`: runs the program (`run_program`, `offline_run`); `monitor`: the recording resource
  monitor; `answers`: what each mocked provider answers; `providers`: the provider facts both use;
  `records`: what a run records (`Run`, `Registration`, `Sensitive`); `sdk`: the SDK's wire form.
- `render`: resources.json and kubernetes.yaml; `diff`: the changes between two renders;
  `formats`: how they read (text, markdown).
"""

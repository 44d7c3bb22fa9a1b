"""Companies, their profiles, and matching notices to profiles with reasons a person understands.

- `models`: the ORM tables (companies, recipients, profiles and their history, matches, feedback);
- `query`: the keyword language of profiles, parsed once into a compiled form;
- `matcher`: pure matching of compiled profiles against notices (no database);
- `service`: keeps stored matches in step with stored notices and profiles, and feedback;
- `importer`: `companies import` of CSV and JSONL;
- `evaluate`: precision, recall and F1 against a gold file, beside a keyword-only baseline;
- `cli`: the `companies`, `matches` and `profiles` command groups.
"""

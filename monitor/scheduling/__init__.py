"""Scheduling and operations: one APScheduler scheduler (`ilo-monitor serve`), one cycle on demand
(`ilo-monitor run`), the single-instance lock, and `ilo-monitor status`.

- `config`: `monitor/schedule.yaml`, validated with file, line and reason;
- `jobs`: the module-level job functions the job store refers to by text;
- `lock`: the lock row that keeps a second scheduler on the same database from starting;
- `service`: building, reconciling, running and stopping the scheduler; the `run` cycle;
- `cli`: the `serve`, `run` and `status` commands.
"""

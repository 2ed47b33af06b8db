"""The `invora` console command: `invora dev`, `invora keys`, `invora migrate`."""

"""The `ehc` command and its development and store chores."""

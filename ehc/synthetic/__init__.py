"""Synthetic caseloads calibrated on DfE's published figures (``generator``), and a player
that enters them through the real API (``player``). For tests and demonstrations only:
every name, date of birth and identifier is made up."""

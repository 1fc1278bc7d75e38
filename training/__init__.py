"""Training jobs: SFT and reward models trained from exported dataset versions."""

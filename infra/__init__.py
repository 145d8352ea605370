"""How maint runs: embedded servers on one machine, or external servers in production."""

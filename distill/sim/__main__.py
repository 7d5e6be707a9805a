"""`python -m distill.sim`: serve the teacher simulator until SIGINT/SIGTERM."""

from distill.sim.cli import main

raise SystemExit(main())

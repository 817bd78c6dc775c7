"""Review 2 findings: each test fails on main as reviewed and passes once its bug is fixed."""

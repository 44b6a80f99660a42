"""Recording and replaying raw sensor input, so every test runs the real drivers."""

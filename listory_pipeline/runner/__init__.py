"""Run machinery: the processes `listory ui` starts and how they stop."""

"""The airline policy as code, and what it says about tasks and agents.

Rules (`registry`, one module per topic) judge a write against the database before it;
`conversation` judges a transcript; `task_checks` a task as a whole. The audit applies them
to a task's gold, `compliance` to an agent's episode.
"""

"""One case per task (and trial): the agent must leave the database as the gold actions do."""


def test_task(taugepa_episode):
    """Passes when the final database equals the gold one and the required outputs were said."""
    taugepa_episode.assert_passed()

from tests.event_contract import saved_events_keep_their_contract  # noqa: F401 - autouse

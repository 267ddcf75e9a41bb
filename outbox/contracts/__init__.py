"""The events' published contract, derived from the code and held to it.

`asyncapi` writes the AsyncAPI document of every channel and message; `schema_lock` locks each
event version's data schema and refuses a breaking change; `conformance` checks a message
against the document.
"""

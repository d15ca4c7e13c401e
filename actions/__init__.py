"""Custom actions of the assistant, served by ``rasa run actions --actions actions``.

Importing this package opens no database connection: the profile store is built
on the first action that needs it (see ``profile_client``).
"""
from actions import request_validation

request_validation.install()

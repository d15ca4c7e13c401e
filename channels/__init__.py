"""Input channels: thin subclasses of Rasa's own connectors, listed in credentials.yml.

Rasa's connector code does the protocol work; each subclass adds only what this
project needs on top:

* ``env``       secrets from environment variables; a channel without them is left out
                with one log line instead of stopping the server;
* ``guard``     one policy for every channel: empty or over-long text gets a polite reply
                and never reaches the NLU, a crash while answering gets an apology;
* ``rest``      Rasa's REST protocol with clear 4xx answers for malformed bodies;
* ``socketio``  Rasa's socket.io protocol (so existing Rasa web widgets connect unchanged)
                plus a ``turn_end`` event carrying the emotion read in the user's message;
* ``slack`` and ``telegram``  Rasa's connectors with configurable API base URLs, 401 for
                bad Slack signatures, Slack retry de-duplication and 4xx for bad updates;
* ``webchat``   serves the chat page (``channels/webchat/static``) from the Rasa server.
"""

"""Several Rasa servers behind nginx on PostgreSQL and Redis: start, load, break, check.

``model`` trains the model the cluster serves, ``cluster`` starts and supervises the
processes, ``loadgen`` drives conversations through the balancer, ``check`` reads them
back from the tracker store, ``bad_input`` sends nasty payloads; ``bot.bench.scale``
runs them all.
"""

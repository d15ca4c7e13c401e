# On the device: install the carried wheel, restore fp32 weights, run the sweep into $OUT.
set -e
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site gpu/whl/*.whl
export PYTHONPATH=/tmp/site HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 BOT_DATASETS_DIR=$PWD/gpu/datasets OMP_NUM_THREADS=2 PYTHONUNBUFFERED=1
mkdir -p /tmp/minilm && cp gpu/minilm/*.json gpu/minilm/vocab.txt /tmp/minilm/
python3 -c "
from safetensors.torch import load_file, save_file
w = load_file('gpu/minilm/model_fp16.safetensors'); save_file({k: v.float() for k, v in w.items()}, '/tmp/minilm/model.safetensors')"
python3 -c "import torch, transformers, peft, sklearn; print(torch.__version__, transformers.__version__, peft.__version__, sklearn.__version__, torch.cuda.get_device_name())"
SWEEP_BASE_MODEL=/tmp/minilm python3 gpu/sweep.py $OUT

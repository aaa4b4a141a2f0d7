import sys

from fwp_keras.training.cli import train

sys.exit(train())

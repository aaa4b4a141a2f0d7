"""fwp-keras: Fast Weight Programmers / linear Transformers for Keras 3.

"Linear Transformers Are Secretly Fast Weight Programmers" (Schlag, Irie, Schmidhuber, ICML 2021).
"""

from fwp_keras import layers, ops

__version__ = "0.1.0"

"""Type stubs of the extension module attnlab._attnlab (python/src/*.cpp). Use the attnlab
package's functions; these are their C++ halves (3-D C-contiguous CPU arrays only)."""
from typing import Any, Dict, Tuple

import numpy as np
import numpy.typing as npt

__version__: str

def default_spec() -> str: ...
def parse_spec(text: str) -> str: ...
def attend(q: npt.NDArray[Any], k: npt.NDArray[Any], v: npt.NDArray[Any], spec_json: str,
           kernel: str, diagnostics: bool) -> Dict[str, Any]: ...
def attend_backward(q: npt.NDArray[np.float32], k: npt.NDArray[np.float32],
                    v: npt.NDArray[np.float32], out: npt.NDArray[np.float32],
                    lse: npt.NDArray[np.float32], dout: npt.NDArray[np.float32],
                    spec_json: str) -> Tuple[npt.NDArray[np.float32], ...]: ...
def attend_backward_f64(q: npt.NDArray[np.float64], k: npt.NDArray[np.float64],
                        v: npt.NDArray[np.float64], dout: npt.NDArray[np.float64],
                        spec_json: str) -> Tuple[npt.NDArray[np.float64], ...]: ...
def time_attend_cpp(q: npt.NDArray[np.float32], k: npt.NDArray[np.float32],
                    v: npt.NDArray[np.float32], spec_json: str, repeats: int) -> float: ...

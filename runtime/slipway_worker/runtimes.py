"""Model runtimes: each loads a model folder and serves ``predict(inputs) -> outputs`` over numpy arrays,
declaring its inputs and outputs (names, datatypes, shapes with -1 for any size) as the Open Inference
Protocol's model metadata does.

* ``sklearn``: a pickled or joblib estimator (``model.joblib``, ``model.pkl``), input ``input``
  ``[-1, n_features]``, outputs ``predict`` and, for classifiers, ``predict_proba``;
* ``onnx``: an ``.onnx`` file run by onnxruntime, its tensor inputs and outputs as the graph declares them;
* ``pyfunc``: an MLflow model folder (``MLmodel``), as the mlflow client logs it, its signature as metadata;
* ``custom``: ``model.py`` with a class ``Model`` having ``load()`` and ``predict(batch)`` (a dict of arrays in,
  a dict of arrays out), and optional ``inputs``/``outputs`` lists declaring them. The author writes no
  HTTP or protocol code.
"""

import importlib.util
import inspect
import os
import pickle
import sys

import numpy as np

from .protocol import DATATYPES, RequestError

RUNTIMES = ("sklearn", "onnx", "pyfunc", "custom")


def detect(folder: str) -> str:
    """The runtime a model folder needs, from what it holds."""
    names = set(os.listdir(folder))
    if "MLmodel" in names:
        return "pyfunc"
    if "model.py" in names:
        return "custom"
    if any(name.endswith(".onnx") for name in names):
        return "onnx"
    if any(name.endswith((".joblib", ".pkl", ".pickle")) for name in names):
        return "sklearn"
    raise ValueError(f"{folder} holds no model this worker knows: an MLmodel folder, model.py, a .onnx file, or a pickled estimator")


def load(folder: str, runtime: str = "auto"):
    """Loads the model in ``folder`` with ``runtime`` (``auto`` detects it)."""
    runtime = detect(folder) if runtime == "auto" else runtime
    kinds = {"sklearn": SklearnRuntime, "onnx": OnnxRuntime, "pyfunc": PyfuncRuntime, "custom": CustomRuntime}
    if runtime not in kinds:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    return kinds[runtime](folder)


def tensor(name, datatype, shape):
    return {"name": name, "datatype": datatype, "shape": list(shape)}


class Runtime:
    """What every runtime shares: metadata, and checking a request against it before the model sees it."""

    platform = "unknown"
    inputs: list | None = None
    outputs: list = []

    def metadata(self) -> dict:
        return {"platform": self.platform, "inputs": self.inputs or [], "outputs": self.outputs}

    def check(self, inputs: dict) -> None:
        """Raises RequestError for an unknown or missing input, a wrong datatype or a wrong shape."""
        if self.inputs is None:
            return
        declared = {entry["name"]: entry for entry in self.inputs}
        for name, array in inputs.items():
            entry = declared.get(name)
            if entry is None:
                raise RequestError(f"unknown input '{name}'; the model takes {', '.join(repr(n) for n in declared)}")
            given = "BYTES" if array.dtype == object else next((k for k, v in DATATYPES.items() if v == array.dtype), str(array.dtype))
            if given != entry["datatype"]:
                raise RequestError(f"input '{name}' is {given}; the model takes {entry['datatype']}")
            shape = entry["shape"]
            if len(array.shape) != len(shape) or any(want not in (-1, got) for want, got in zip(shape, array.shape)):
                raise RequestError(f"input '{name}' has shape {list(array.shape)}; the model takes {shape} (-1: any size)")
        missing = [name for name in declared if name not in inputs]
        if missing:
            raise RequestError(f"missing input {', '.join(repr(n) for n in missing)}")

    def infer(self, inputs: dict, wanted: list | None) -> dict:
        self.check(inputs)
        declared = [entry["name"] for entry in self.outputs]
        if wanted and declared and any(name not in declared for name in wanted):
            unknown = [name for name in wanted if name not in declared]
            raise RequestError(f"unknown output {', '.join(repr(n) for n in unknown)}; the model gives {', '.join(declared)}")
        outputs = self.predict(inputs)
        if wanted:
            unknown = [name for name in wanted if name not in outputs]
            if unknown:
                raise RequestError(f"unknown output {', '.join(repr(n) for n in unknown)}; the model gives {', '.join(outputs)}")
            outputs = {name: outputs[name] for name in wanted}
        return outputs

    def predict(self, inputs: dict) -> dict:
        raise NotImplementedError


def result_array(values) -> np.ndarray:
    """A prediction as an array the protocol carries: strings become BYTES, objects their string form."""
    if hasattr(values, "to_numpy"):
        values = values.to_numpy()
    array = np.asarray(values)
    if array.dtype.kind in ("U", "S", "O"):
        return np.array([v if isinstance(v, bytes) else str(v).encode() for v in array.reshape(-1)], dtype=object).reshape(array.shape)
    if array.dtype.kind == "i":
        return array.astype(np.int64)
    if array.dtype.kind == "f" and array.dtype.itemsize < 4:
        return array.astype(np.float32)
    return array


class SklearnRuntime(Runtime):
    platform = "sklearn"

    def __init__(self, folder: str):
        files = sorted(n for n in os.listdir(folder) if n.endswith((".joblib", ".pkl", ".pickle")))
        if not files:
            raise ValueError(f"{folder} holds no .joblib or .pkl file")
        path = os.path.join(folder, "model.joblib" if "model.joblib" in files else "model.pkl" if "model.pkl" in files else files[0])
        if path.endswith(".joblib"):
            import joblib
            self.model = joblib.load(path)
        else:
            with open(path, "rb") as f:
                self.model = pickle.load(f)
        features = getattr(self.model, "n_features_in_", -1)
        self.inputs = [tensor("input", "FP32", [-1, int(features)])]
        classes = getattr(self.model, "classes_", None)
        label = "BYTES" if classes is not None and np.asarray(classes).dtype.kind in ("U", "S", "O") else (
            "INT64" if classes is not None and np.asarray(classes).dtype.kind in ("i", "u") else "FP64")
        self.outputs = [tensor("predict", label, [-1])]
        if hasattr(self.model, "predict_proba") and classes is not None:
            self.outputs.append(tensor("predict_proba", "FP64", [-1, len(classes)]))

    def predict(self, inputs: dict) -> dict:
        x = inputs["input"]
        out = {"predict": result_array(self.model.predict(x))}
        if len(self.outputs) > 1:
            out["predict_proba"] = np.asarray(self.model.predict_proba(x), dtype=np.float64)
        return out


ONNX_TYPES = {
    "tensor(float)": "FP32", "tensor(double)": "FP64", "tensor(float16)": "FP16", "tensor(int64)": "INT64", "tensor(int32)": "INT32",
    "tensor(int16)": "INT16", "tensor(int8)": "INT8", "tensor(uint8)": "UINT8", "tensor(uint16)": "UINT16", "tensor(uint32)": "UINT32",
    "tensor(uint64)": "UINT64", "tensor(bool)": "BOOL", "tensor(string)": "BYTES",
}


class OnnxRuntime(Runtime):
    platform = "onnxruntime_onnx"

    def __init__(self, folder: str):
        import onnxruntime

        files = sorted(n for n in os.listdir(folder) if n.endswith(".onnx"))
        options = onnxruntime.SessionOptions()
        threads = os.environ.get("SLIPWAY_WORKER_THREADS")
        if threads:
            options.intra_op_num_threads = int(threads)
        self.session = onnxruntime.InferenceSession(os.path.join(folder, files[0]), options, providers=["CPUExecutionProvider"])

        def described(arguments):
            found = []
            for argument in arguments:
                if argument.type in ONNX_TYPES:  # sequences and maps (a ZipMap's output) cannot cross as tensors
                    found.append(tensor(argument.name, ONNX_TYPES[argument.type], [d if isinstance(d, int) else -1 for d in argument.shape]))
            return found

        self.inputs = described(self.session.get_inputs())
        self.outputs = described(self.session.get_outputs())

    def predict(self, inputs: dict) -> dict:
        feeds = {name: (array.astype(str) if array.dtype == object else array) for name, array in inputs.items()}
        names = [entry["name"] for entry in self.outputs]
        return {name: result_array(value) for name, value in zip(names, self.session.run(names, feeds))}


MLFLOW_TYPES = {"double": "FP64", "float": "FP32", "long": "INT64", "integer": "INT32", "boolean": "BOOL", "string": "BYTES", "binary": "BYTES"}


class PyfuncRuntime(Runtime):
    platform = "mlflow_pyfunc"

    def __init__(self, folder: str):
        import mlflow.pyfunc

        self.model = mlflow.pyfunc.load_model(folder)
        self.columns = None
        schema = self.model.metadata.get_input_schema()
        if schema is None:
            self.inputs = None  # no signature: whatever arrives goes to the model
        elif schema.is_tensor_spec():
            self.inputs = []
            for index, spec in enumerate(schema.inputs):
                datatype = next((k for k, v in DATATYPES.items() if v == np.dtype(spec.type).newbyteorder("<")), "BYTES")
                self.inputs.append(tensor(spec.name or ("input" if index == 0 else f"input_{index}"), datatype, spec.shape))
        else:
            # Named columns: one 2-D tensor whose columns are the signature's, in order.
            self.columns = schema.input_names()
            types = {MLFLOW_TYPES.get(str(getattr(spec.type, "name", spec.type)), "FP64") for spec in schema.inputs}
            self.inputs = [tensor("input", types.pop() if len(types) == 1 else "FP64", [-1, len(self.columns)])]
        outputs = self.model.metadata.get_output_schema()
        self.outputs = [tensor("predict", "FP64", [-1])]
        if outputs is not None and outputs.is_tensor_spec() and len(outputs.inputs) == 1:
            spec = outputs.inputs[0]
            datatype = next((k for k, v in DATATYPES.items() if v == np.dtype(spec.type).newbyteorder("<")), "BYTES")
            self.outputs = [tensor("predict", datatype, spec.shape)]
        elif outputs is not None and not outputs.is_tensor_spec() and len(outputs.inputs) == 1:
            self.outputs = [tensor("predict", MLFLOW_TYPES.get(str(getattr(outputs.inputs[0].type, "name", "")), "FP64"), [-1])]

    def predict(self, inputs: dict) -> dict:
        if self.columns is not None:
            import pandas
            data = pandas.DataFrame(inputs["input"], columns=self.columns)
        elif self.inputs is not None and len(self.inputs) == 1:
            data = inputs[self.inputs[0]["name"]]
        else:
            data = inputs if len(inputs) > 1 else next(iter(inputs.values()))
        result = self.model.predict(data)
        if isinstance(result, dict):
            return {name: result_array(value) for name, value in result.items()}
        return {"predict": result_array(result)}


class CustomRuntime(Runtime):
    platform = "slipway_custom"

    def __init__(self, folder: str):
        spec = importlib.util.spec_from_file_location("slipway_model", os.path.join(folder, "model.py"))
        module = importlib.util.module_from_spec(spec)
        sys.path.insert(0, folder)  # the model's own helper modules
        spec.loader.exec_module(module)
        if not hasattr(module, "Model"):
            raise ValueError("model.py must define a class Model with load() and predict(batch)")
        self.model = module.Model()
        load = getattr(self.model, "load", None)
        if load is not None:
            load(folder) if len(inspect.signature(load).parameters) >= 1 else load()
        declared_inputs = getattr(self.model, "inputs", None)
        self.inputs = [tensor(e["name"], e["datatype"], e["shape"]) for e in declared_inputs] if declared_inputs else None
        self.outputs = [tensor(e["name"], e["datatype"], e["shape"]) for e in getattr(self.model, "outputs", None) or []]

    def predict(self, inputs: dict) -> dict:
        result = self.model.predict(inputs)
        if isinstance(result, dict):
            return {name: result_array(value) for name, value in result.items()}
        return {"output": result_array(result)}

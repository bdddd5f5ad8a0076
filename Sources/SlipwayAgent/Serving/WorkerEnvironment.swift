import Foundation
import SlipwayDomain

/// How a model folder is served: the worker runtime its files call for, and the Python requirements of the worker's
/// environment (the model's own `requirements.txt`, the deployment's extra lines, and what the runtime itself needs).
struct WorkerEnvironment: Sendable, Hashable {
    /// `pyfunc`, `custom`, `onnx` or `sklearn`, as the worker detects them.
    var runtime: String
    var requirements: [String]
    var python: String

    enum Problem: Error, CustomStringConvertible {
        case unknownModel(String)
        var description: String {
            switch self {
            case .unknownModel(let files):
                "the model's folder holds no model the worker knows (an MLmodel folder, model.py, a .onnx file or a pickled estimator); it holds \(files)"
            }
        }
    }

    /// What the worker needs on top of the model's requirements, by runtime.
    static let runtimeRequirements: [String: [String]] = [
        "pyfunc": ["mlflow-skinny", "pandas"],
        "custom": [],
        "onnx": ["onnxruntime"],
        "sklearn": ["scikit-learn", "joblib"],
    ]

    /// Reads `folder` and the deployment's environment.
    static func of(folder: URL, extra: JobEnvironment?) throws -> WorkerEnvironment {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? []
        let runtime: String
        if names.contains("MLmodel") {
            runtime = "pyfunc"
        } else if names.contains("model.py") {
            runtime = "custom"
        } else if names.contains(where: { $0.hasSuffix(".onnx") }) {
            runtime = "onnx"
        } else if names.contains(where: { $0.hasSuffix(".joblib") || $0.hasSuffix(".pkl") || $0.hasSuffix(".pickle") }) {
            runtime = "sklearn"
        } else {
            throw Problem.unknownModel(names.filter { !$0.hasPrefix(".") }.sorted().prefix(8).joined(separator: ", "))
        }
        var lines: [String] = []
        if let text = try? String(contentsOf: folder.appendingPathComponent("requirements.txt"), encoding: .utf8) {
            lines += requirementLines(text)
        }
        lines += extra?.requirements ?? []
        var named = Set(lines.compactMap(packageName))
        for requirement in ["numpy"] + (runtimeRequirements[runtime] ?? []) {
            // mlflow brings mlflow-skinny's code: a model that pins mlflow needs nothing more for pyfunc.
            if requirement == "mlflow-skinny", named.contains("mlflow") { continue }
            if named.insert(requirement).inserted { lines.append(requirement) }
        }
        return WorkerEnvironment(runtime: runtime, requirements: lines, python: extra?.python ?? "python3")
    }

    /// The requirement lines of a `requirements.txt`: comments and blank lines dropped, and lines naming other files
    /// (`-r`, `-c`), which the model's folder cannot resolve on a node, left out.
    static func requirementLines(_ text: String) -> [String] {
        text.split(whereSeparator: \.isNewline).compactMap { raw in
            let line = raw.split(separator: "#", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("-r") || trimmed.hasPrefix("-c") || trimmed.hasPrefix("--requirement")
                || trimmed.hasPrefix("--constraint")
            {
                return nil
            }
            return trimmed
        }
    }

    /// The normalised distribution name a requirement line installs (`scikit_learn==1.5` → `scikit-learn`), if it names one.
    static func packageName(_ line: String) -> String? {
        guard let first = line.first, first.isLetter || first.isNumber else { return nil }
        let name = line.prefix { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == "." }
        return name.lowercased().replacingOccurrences(of: "_", with: "-").replacingOccurrences(of: ".", with: "-")
    }
}

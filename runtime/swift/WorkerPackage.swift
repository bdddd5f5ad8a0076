import Foundation

/// The model worker's Python package (`slipway_worker`, beside this file in `runtime/`), shipped as a resource of
/// the `slipway` binary so that every agent can start workers without installing anything of Slipway's.
public enum WorkerPackage {
    /// The folder to put on `PYTHONPATH`: it holds `slipway_worker/`. `SLIPWAY_WORKER_PYTHONPATH` overrides it.
    public static var pythonPath: URL? {
        if let path = ProcessInfo.processInfo.environment["SLIPWAY_WORKER_PYTHONPATH"], !path.isEmpty {
            return URL(fileURLWithPath: path)
        }
        guard let folder = Bundle.module.resourceURL,
            FileManager.default.fileExists(atPath: folder.appendingPathComponent("slipway_worker/__main__.py").path)
        else { return nil }
        return folder
    }
}

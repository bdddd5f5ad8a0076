import Crypto
import Foundation
import SlipwayDomain

/// Python virtual environments for jobs, built once per distinct (interpreter, requirements) and reused: the
/// folder is named by the SHA-256 of both, built beside it and renamed into place only when pip succeeded.
struct PythonEnvironments: Sendable {
    let root: URL

    struct BuildFailure: Error, CustomStringConvertible {
        var description: String
    }

    /// The cache key of an environment.
    static func key(_ environment: JobEnvironment) -> String {
        let text = (environment.python ?? "python3") + "\n" + environment.requirements.joined(separator: "\n")
        return SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }

    /// The environment's folder, built if missing; build output is appended to `log`.
    /// - Returns: the folder and whether it came from the cache.
    func prepare(_ environment: JobEnvironment, log: URL) async throws -> (folder: URL, cached: Bool) {
        let key = Self.key(environment)
        let folder = root.appendingPathComponent(key)
        if FileManager.default.fileExists(atPath: folder.appendingPathComponent(".complete").path) { return (folder, true) }
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let building = root.appendingPathComponent(".building-\(key)-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: building) }
        let python = environment.python ?? "python3"
        try await run("\(python) -m venv \(Self.quote(building.path))", log: log, what: "creating the virtual environment with \(python)")
        if !environment.requirements.isEmpty {
            let requirements = building.appendingPathComponent("requirements.txt")
            try (environment.requirements.joined(separator: "\n") + "\n").write(to: requirements, atomically: true, encoding: .utf8)
            try await run(
                "\(Self.quote(building.appendingPathComponent("bin/pip").path)) install --disable-pip-version-check --no-input -r \(Self.quote(requirements.path))",
                log: log, what: "installing the requirements")
        }
        FileManager.default.createFile(atPath: building.appendingPathComponent(".complete").path, contents: nil)
        // A virtual environment's scripts name its folder, so it is used where it was built: move the
        // finished one into place only if no other job finished the same one first.
        if FileManager.default.fileExists(atPath: folder.path) { return (folder, true) }
        do {
            try FileManager.default.moveItem(at: building, to: folder)
        } catch {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent(".complete").path) { return (folder, true) }
            throw error
        }
        return (folder, false)
    }

    /// Runs a shell command, appending its output to `log`. - Throws: ``BuildFailure`` with the output's tail.
    private func run(_ command: String, log: URL, what: String) async throws {
        let output = log.deletingLastPathComponent().appendingPathComponent(".build-\(UUID().uuidString.prefix(8)).log")
        defer { try? FileManager.default.removeItem(at: output) }
        let process = try JobProcess(
            command: command, directory: root, environment: ProcessInfo.processInfo.environment.filter { $0.key != "PYTHONPATH" }, log: output)
        let ending = try await process.run()
        let text = (try? String(contentsOf: output, encoding: .utf8)) ?? ""
        if let handle = try? FileHandle(forWritingTo: log) {
            handle.seekToEndOfFile()
            handle.write(Data(text.utf8))
            try? handle.close()
        }
        guard ending == .exited(0) else {
            let tail = text.split(separator: "\n").suffix(3).joined(separator: " | ")
            throw BuildFailure(description: "\(what) failed: \(tail.isEmpty ? "\(ending)" : String(tail.suffix(600)))")
        }
    }

    static func quote(_ text: String) -> String { "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'" }
}

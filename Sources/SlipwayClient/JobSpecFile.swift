import Foundation
import SlipwayDomain
import Yams

/// A job spec as people write it, in YAML or JSON: the API's fields (`name`, `command`, `resources`,
/// `environment`, `inputs`, `node_selector`, `priority`, `max_runtime_seconds`, `env`, `experiment`), with two
/// conveniences: `resources.memory` may be written `4GiB`, and `code` may name a folder (relative to the file),
/// which `job submit` packs and uploads.
public enum JobSpecFile {
    /// The spec in `url`, and the code folder it names, if any.
    public static func load(_ url: URL) throws -> (spec: JobSpec, codeFolder: String?) {
        let text: String
        do {
            text = try String(contentsOf: url, encoding: .utf8)
        } catch {
            throw JobSpecError("cannot read the job spec \(url.path): \(error.localizedDescription)")
        }
        return try parse(text, name: url.lastPathComponent)
    }

    /// Reads a spec from YAML (JSON is YAML too). - Throws: ``JobSpecError`` naming what is wrong.
    public static func parse(_ text: String, name: String) throws -> (spec: JobSpec, codeFolder: String?) {
        let loaded: Any?
        do {
            loaded = try Yams.load(yaml: text)
        } catch {
            throw JobSpecError("\(name) is not valid YAML or JSON: \(error)")
        }
        guard var document = loaded as? [String: Any] else { throw JobSpecError("\(name) must hold a mapping of spec fields") }
        var codeFolder: String?
        if let code = document["code"] as? String {
            codeFolder = code
            document["code"] = nil
        }
        if var resources = document["resources"] as? [String: Any], let memory = resources["memory"] {
            guard let bytes = parseBytes("\(memory)") else { throw JobSpecError("\(name): resources.memory must look like 512MiB or 4GiB") }
            resources["memory_bytes"] = bytes
            resources["memory"] = nil
            document["resources"] = resources
        }
        if var resources = document["resources"] as? [String: Any] {
            resources["cpu"] = resources["cpu"] ?? 1
            resources["memory_bytes"] = resources["memory_bytes"] ?? (1 << 30)
            resources["gpu"] = resources["gpu"] ?? 0
            document["resources"] = resources
        } else {
            document["resources"] = ["cpu": 1, "memory_bytes": 1 << 30, "gpu": 0]
        }
        do {
            let data = try JSONSerialization.data(withJSONObject: document)
            return (try APICoding.decoder().decode(JobSpec.self, from: data), codeFolder)
        } catch let error as DecodingError {
            throw JobSpecError("\(name) is not a job spec: \(describe(error))")
        }
    }

    private static func describe(_ error: DecodingError) -> String {
        func path(_ context: DecodingError.Context) -> String {
            context.codingPath.map { $0.intValue.map(String.init) ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let context): return "'\((context.codingPath + [key]).map(\.stringValue).joined(separator: "."))' is missing"
        case .typeMismatch(_, let context), .valueNotFound(_, let context), .dataCorrupted(let context):
            return "'\(path(context))': \(context.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}

/// Why a job spec file cannot be used, in a sentence.
public struct JobSpecError: Error, CustomStringConvertible, LocalizedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorDescription: String? { description }
}

/// `512MiB`, `4GiB`, `2G`, `1000000` → bytes.
public func parseBytes(_ text: String) -> Int64? {
    let units: [(String, Int64)] = [
        ("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10),
        ("B", 1),
    ]
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    for (suffix, scale) in units where trimmed.hasSuffix(suffix) {
        guard let number = Double(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), number > 0 else { return nil }
        return Int64(number * Double(scale))
    }
    return Int64(trimmed)
}

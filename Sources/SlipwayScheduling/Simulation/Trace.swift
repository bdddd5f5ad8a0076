import Foundation

/// One job of a trace: when it arrived, how long it ran, what it asked for, and whose it was.
public struct TraceJob: Sendable, Hashable, Codable {
    public var id: String
    /// Seconds from the start of the trace.
    public var submitTime: Double
    /// Seconds it runs once started.
    public var duration: Double
    /// What the whole job asks for (a job needing more GPUs than a node has runs as a gang; see ``Simulator``).
    public var resources: Resources
    public var namespace: String

    public init(id: String, submitTime: Double, duration: Double, resources: Resources, namespace: String) {
        self.id = id
        self.submitTime = submitTime
        self.duration = duration
        self.resources = resources
        self.namespace = namespace
    }
}

/// A job trace, read from and written to CSV.
///
/// The CSV has a header row naming its columns, in any order:
///
/// | column | meaning |
/// |---|---|
/// | `submit_time` | seconds from the start of the trace (≥ 0) |
/// | `duration` | seconds the job runs (> 0) |
/// | `cpu` | cores (fractions allowed, ≥ 0) |
/// | `memory_gib` or `memory_bytes` | memory in GiB (fractions allowed) or in bytes (≥ 0) |
/// | `gpu` | whole GPUs (≥ 0) |
/// | `namespace` | the team the job belongs to (not empty) |
/// | `job_id` | optional; `job-N` (N the row number) when absent |
///
/// Other columns are ignored. Blank lines and lines starting with `#` are skipped. Fields are separated
/// by commas; a field may be wrapped in double quotes.
public struct Trace: Sendable, Hashable, Codable {
    public var jobs: [TraceJob]

    public init(jobs: [TraceJob]) {
        self.jobs = jobs
    }

    /// Reads a CSV trace.
    /// - Throws: ``TraceError`` naming the line and column of the first problem.
    public init(csv text: String) throws {
        var header: [String: Int]?
        var memoryInBytes = false
        var fieldCount = 0
        var jobs: [TraceJob] = []
        var seen = Set<String>()
        var lineNumber = 0
        for line in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline) {
            lineNumber += 1
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let fields = line.split(separator: ",", omittingEmptySubsequences: false).map(Self.unquote)
            guard let columns = header else {
                var names: [String: Int] = [:]
                for (position, name) in fields.enumerated() { names[name.lowercased()] = position }
                for required in ["submit_time", "duration", "cpu", "gpu", "namespace"] where names[required] == nil {
                    throw TraceError(.missingColumn(required, found: fields), line: lineNumber)
                }
                if names["memory_gib"] == nil {
                    guard names["memory_bytes"] != nil else {
                        throw TraceError(.missingColumn("memory_gib (or memory_bytes)", found: fields), line: lineNumber)
                    }
                    memoryInBytes = true
                }
                header = names
                fieldCount = fields.count
                continue
            }
            guard fields.count == fieldCount else {
                throw TraceError(.fieldCount(expected: fieldCount, found: fields.count), line: lineNumber)
            }
            func number(_ column: String, _ rule: (Double) -> Bool, _ ruleText: String) throws -> Double {
                let text = fields[columns[column]!]
                guard let value = Double(text), value.isFinite else { throw TraceError(.notANumber(column: column, text: text), line: lineNumber) }
                guard rule(value) else { throw TraceError(.outOfRange(column: column, text: text, rule: ruleText), line: lineNumber) }
                return value
            }
            let submit = try number("submit_time", { $0 >= 0 }, "0 or more")
            let duration = try number("duration", { $0 > 0 }, "more than 0")
            let cpu = try number("cpu", { $0 >= 0 }, "0 or more")
            let gpu = try number("gpu", { $0 >= 0 && $0 == $0.rounded() && $0 < 1_000_000 }, "a whole number, 0 or more")
            let memoryBytes: Int64
            if memoryInBytes {
                memoryBytes = Int64(try number("memory_bytes", { $0 >= 0 && $0 == $0.rounded() && $0 < 9e18 }, "a whole number, 0 or more"))
            } else {
                memoryBytes = Int64((try number("memory_gib", { $0 >= 0 && $0 < 8e9 }, "0 or more") * Resources.bytesPerGiB).rounded())
            }
            let namespace = fields[columns["namespace"]!]
            guard !namespace.isEmpty else { throw TraceError(.emptyNamespace, line: lineNumber) }
            var id = "job-\(jobs.count + 1)"
            if let position = columns["job_id"] {
                guard !fields[position].isEmpty else { throw TraceError(.emptyID, line: lineNumber) }
                id = fields[position]
            }
            guard seen.insert(id).inserted else { throw TraceError(.duplicateID(id), line: lineNumber) }
            jobs.append(
                TraceJob(
                    id: id, submitTime: submit, duration: duration,
                    resources: Resources(cpuMillicores: Int64((cpu * 1000).rounded()), memoryBytes: memoryBytes, gpu: Int(gpu)),
                    namespace: namespace))
        }
        guard header != nil else { throw TraceError(.noHeader, line: nil) }
        self.jobs = jobs
    }

    /// The trace as CSV, with the columns `job_id,submit_time,duration,cpu,memory_gib,gpu,namespace`.
    public var csv: String {
        var text = "job_id,submit_time,duration,cpu,memory_gib,gpu,namespace\n"
        for job in jobs {
            text +=
                "\(job.id),\(Resources.number(job.submitTime)),\(Resources.number(job.duration)),\(Resources.number(job.resources.cpu)),"
                + "\(Resources.number(job.resources.memoryGiB)),\(job.resources.gpu),\(job.namespace)\n"
        }
        return text
    }

    private static func unquote(_ field: Substring) -> String {
        let trimmed = field.trimmingCharacters(in: .whitespaces)
        if trimmed.count >= 2 && trimmed.hasPrefix("\"") && trimmed.hasSuffix("\"") {
            return String(trimmed.dropFirst().dropLast()).replacingOccurrences(of: "\"\"", with: "\"")
        }
        return trimmed
    }
}

/// A trace that cannot be read, with the line (counting from 1) where the problem is.
public struct TraceError: Error, Hashable, CustomStringConvertible {
    fileprivate enum Kind: Hashable {
        case noHeader
        case missingColumn(String, found: [String])
        case fieldCount(expected: Int, found: Int)
        case notANumber(column: String, text: String)
        case outOfRange(column: String, text: String, rule: String)
        case emptyNamespace
        case emptyID
        case duplicateID(String)
    }

    fileprivate let kind: Kind
    /// The line of the problem, counting from 1; `nil` when it concerns the whole file.
    public let line: Int?

    fileprivate init(_ kind: Kind, line: Int?) {
        self.kind = kind
        self.line = line
    }

    public var description: String {
        let problem: String
        switch kind {
        case .noHeader:
            problem = "the trace is empty: it needs a header row (submit_time,duration,cpu,memory_gib,gpu,namespace) and jobs"
        case .missingColumn(let name, let found):
            problem = "the header has no \(name) column (found: \(found.joined(separator: ", ")))"
        case .fieldCount(let expected, let found):
            problem = "\(found) fields where the header has \(expected)"
        case .notANumber(let column, let text):
            problem = "\(column) '\(text)' is not a number"
        case .outOfRange(let column, let text, let rule):
            problem = "\(column) \(text) must be \(rule)"
        case .emptyNamespace:
            problem = "the namespace is empty"
        case .emptyID:
            problem = "the job_id is empty"
        case .duplicateID(let id):
            problem = "job_id \(id) appears twice"
        }
        return line.map { "line \($0): \(problem)" } ?? problem
    }
}

/// Why data could not be imported: what is wrong, and where (line, column, entry).
///
/// A struct wrapping a private enum, so that new cases do not break callers.
public struct DataImportError: Error, CustomStringConvertible, Sendable, Equatable {
    private enum Kind: Sendable, Equatable {
        case invalid(String)
        case atLine(Int, String)
        case limit(String)
    }

    private let kind: Kind

    /// The input as a whole is unusable (no header, unknown column).
    public static func invalid(_ message: String) -> DataImportError { DataImportError(kind: .invalid(message)) }
    /// Line `line` of the input is wrong.
    public static func atLine(_ line: Int, _ message: String) -> DataImportError { DataImportError(kind: .atLine(line, message)) }
    /// The input exceeds a configured limit (size, entries, compression ratio).
    public static func limit(_ message: String) -> DataImportError { DataImportError(kind: .limit(message)) }

    /// A stable machine-readable code: `invalid_data` or `limit_exceeded`.
    public var code: String {
        if case .limit = kind { return "limit_exceeded" }
        return "invalid_data"
    }

    public var description: String {
        switch kind {
        case .invalid(let message): message
        case .atLine(let line, let message): "line \(line): \(message)"
        case .limit(let message): message
        }
    }
}

import Foundation

/// Splits CSV bytes (RFC 4180: quoted fields, doubled quotes, CR LF or LF line ends) into rows,
/// fed in chunks of any size so a file of any length is read in bounded memory.
public struct CSVReader: Sendable {
    /// A row and the line of the file it started on (1-based).
    public struct Row: Sendable, Equatable {
        public var fields: [String]
        public var line: Int
    }

    private var field: [UInt8] = []
    private var fields: [String] = []
    private var inQuotes = false
    private var quoteSeen = false
    private var line = 1
    private var rowLine = 1
    private var pendingCR = false
    private var rowHasContent = false
    private let delimiter: UInt8

    public init(delimiter: UInt8 = UInt8(ascii: ",")) {
        self.delimiter = delimiter
    }

    /// Feeds the next bytes; returns the rows they completed.
    public mutating func consume(_ bytes: some Sequence<UInt8>) -> [Row] {
        var rows: [Row] = []
        for byte in bytes {
            if pendingCR {
                pendingCR = false
                if byte == UInt8(ascii: "\n") { continue }
            }
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    inQuotes = false
                    quoteSeen = true
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    field.append(byte)
                }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""):
                if quoteSeen {
                    // A doubled quote inside a quoted field.
                    field.append(byte)
                    inQuotes = true
                    quoteSeen = false
                } else {
                    inQuotes = true
                    rowHasContent = true
                }
            case delimiter:
                endField()
                rowHasContent = true
            case UInt8(ascii: "\n"), UInt8(ascii: "\r"):
                if byte == UInt8(ascii: "\r") { pendingCR = true }
                if let row = endRow() { rows.append(row) }
                line += 1
                rowLine = line
            default:
                quoteSeen = false
                field.append(byte)
                rowHasContent = true
            }
        }
        return rows
    }

    /// Ends the input; returns the last row if the file did not end with a line break.
    public mutating func finish() -> Row? {
        endRow()
    }

    /// Whether the input ended inside a quoted field.
    public var isInsideQuotes: Bool { inQuotes }

    private mutating func endField() {
        fields.append(String(decoding: field, as: UTF8.self))
        field.removeAll(keepingCapacity: true)
        quoteSeen = false
    }

    private mutating func endRow() -> Row? {
        defer {
            rowHasContent = false
            quoteSeen = false
        }
        guard rowHasContent || !field.isEmpty || !fields.isEmpty else { return nil }
        endField()
        let row = Row(fields: fields, line: rowLine)
        fields.removeAll(keepingCapacity: true)
        return row
    }
}

/// Writes CSV text, quoting fields that need it.
public enum CSVWriter {
    /// One CSV line (with a trailing LF) for `fields`.
    public static func line(_ fields: [String]) -> String {
        fields.map(quote).joined(separator: ",") + "\n"
    }

    static func quote(_ field: String) -> String {
        guard field.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) || field.hasPrefix(" ") || field.hasSuffix(" ")
        else { return field }
        return "\"" + field.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}

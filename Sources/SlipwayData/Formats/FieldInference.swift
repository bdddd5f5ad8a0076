import SlipwayDomain

/// Infers a column's type from its values: boolean, then integer, then number, else string.
/// Empty cells are missing values and do not decide the type.
public struct FieldInference: Sendable {
    private var canBeBoolean = true
    private var canBeInteger = true
    private var canBeNumber = true
    private var sawValue = false

    public init() {}

    /// Takes one cell into account.
    public mutating func observe(_ text: String) {
        guard !text.isEmpty else { return }
        sawValue = true
        if canBeBoolean, Self.boolean(text) == nil { canBeBoolean = false }
        if canBeInteger, Int64(text) == nil { canBeInteger = false }
        if canBeNumber, Self.number(text) == nil { canBeNumber = false }
    }

    /// The type that fits every value seen (string for a column with no values).
    public var type: FieldType {
        guard sawValue else { return .string }
        if canBeBoolean { return .boolean }
        if canBeInteger { return .integer }
        if canBeNumber { return .number }
        return .string
    }

    static func boolean(_ text: String) -> Bool? {
        switch text.lowercased() {
        case "true": true
        case "false": false
        default: nil
        }
    }

    static func number(_ text: String) -> Double? {
        guard let value = Double(text), value.isFinite else { return nil }
        return value
    }

    /// Converts a cell to `type`; `nil` when it does not fit. Empty cells are `null`.
    public static func value(_ text: String, as type: FieldType) -> JSONValue? {
        if text.isEmpty { return .null }
        switch type {
        case .string: return .string(text)
        case .boolean: return boolean(text).map(JSONValue.bool)
        case .integer: return Int64(text).map(JSONValue.integer)
        case .number: return number(text).map(JSONValue.number)
        }
    }
}

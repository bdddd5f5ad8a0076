/// A search string MLflow's grammar does not accept; the message names the token and its position.
public struct SearchSyntaxError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// What a key of a search names: `metrics.acc`, `params.lr`, `tags.team`, `attributes.status`, `datasets.name`.
public struct SearchKey: Sendable, Hashable {
    public enum Kind: String, Sendable {
        case metric
        case param
        case tag
        case attribute
        case dataset
    }
    public var kind: Kind
    public var name: String

    public init(kind: Kind, name: String) {
        self.kind = kind
        self.name = name
    }
}

/// A value a subject holds under a key: a number, a string, or several strings (a run's datasets).
public enum SearchValue: Sendable, Hashable {
    case number(Double)
    case string(String)
    case strings([String])
}

/// Something a filter can be evaluated against and ordered by.
public protocol SearchSubject: Sendable {
    /// How a key written without a prefix (`name`, `status`) is read; `nil` when such keys are not allowed.
    static var bareKeyKind: SearchKey.Kind? { get }
    /// The key kinds filters may use, with the attribute names (and whether each is numeric).
    static var allowedKinds: Set<SearchKey.Kind> { get }
    static var attributes: [String: Bool] { get }
    /// The value under `key`, or `nil` when the subject has none.
    func value(for key: SearchKey) -> SearchValue?
    /// Whether `!=` matches a subject that lacks the key (MLflow's registry: a model without the tag
    /// `mlflow.prompt.is_prompt` is not a prompt); elsewhere a missing value never matches.
    static var missingMatchesNotEqual: Bool { get }
}

extension SearchSubject {
    public static var missingMatchesNotEqual: Bool { false }
}

/// One parsed filter: comparisons joined by AND. An empty filter matches everything.
public struct SearchFilter<Subject: SearchSubject>: Sendable {
    enum Comparison: Sendable {
        case compare(SearchKey, String, SearchLiteral)
        case oneOf(SearchKey, [String], negated: Bool)
        case isNull(SearchKey, negated: Bool)
    }

    let comparisons: [Comparison]

    /// Parses `text`. - Throws: ``SearchSyntaxError`` saying what is wrong and where.
    public static func parse(_ text: String) throws -> SearchFilter {
        var parser = SearchParser(text: text)
        var comparisons: [Comparison] = []
        guard !parser.atEnd else { return SearchFilter(comparisons: []) }
        repeat {
            comparisons.append(try parser.comparison(Subject.self))
        } while try parser.andKeyword()
        try parser.expectEnd()
        return SearchFilter(comparisons: comparisons)
    }

    /// The keys the filter reads: a store can load just these before filtering.
    public var keys: Set<SearchKey> {
        Set(
            comparisons.map { comparison in
                switch comparison {
                case .compare(let key, _, _), .oneOf(let key, _, _), .isNull(let key, _): key
                }
            })
    }

    /// Whether `subject` satisfies every comparison.
    public func matches(_ subject: Subject) -> Bool {
        comparisons.allSatisfy { comparison in
            switch comparison {
            case .isNull(let key, let negated):
                return (subject.value(for: key) == nil) != negated
            case .oneOf(let key, let options, let negated):
                guard let value = subject.value(for: key) else { return false }
                let found = Self.strings(value).contains { options.contains($0) }
                return found != negated
            case .compare(let key, let comparator, let literal):
                guard let value = subject.value(for: key) else { return comparator == "!=" && Subject.missingMatchesNotEqual }
                switch (value, literal) {
                case (.number(let number), .number(let target)): return Self.compare(number, comparator, target)
                case (.number(let number), .string(let text)):
                    guard let target = Double(text) else { return false }
                    return Self.compare(number, comparator, target)
                default:
                    let target = literal.text
                    return Self.strings(value).contains { Self.compare($0, comparator, target) }
                }
            }
        }
    }

    static func strings(_ value: SearchValue) -> [String] {
        switch value {
        case .string(let text): [text]
        case .strings(let texts): texts
        case .number(let number): [number == number.rounded() && abs(number) < 1e15 ? String(Int64(number)) : String(number)]
        }
    }

    static func compare(_ a: Double, _ comparator: String, _ b: Double) -> Bool {
        switch comparator {
        case "=": a == b
        case "!=": a != b && !a.isNaN
        case ">": a > b
        case ">=": a >= b
        case "<": a < b
        case "<=": a <= b
        default: false
        }
    }

    static func compare(_ a: String, _ comparator: String, _ b: String) -> Bool {
        switch comparator {
        case "=": a == b
        case "!=": a != b
        case "LIKE": LikePattern(b, caseSensitive: true).matches(a)
        case "ILIKE": LikePattern(b, caseSensitive: false).matches(a)
        default: false
        }
    }
}

/// A literal on the right of a comparison.
enum SearchLiteral: Sendable {
    case number(Double)
    case string(String)

    var text: String {
        switch self {
        case .string(let text): text
        case .number(let number): String(number)
        }
    }
}

/// SQL's LIKE: `%` any run of characters, `_` one character.
struct LikePattern {
    let pattern: [Character]
    let caseSensitive: Bool

    init(_ pattern: String, caseSensitive: Bool) {
        self.pattern = Array(caseSensitive ? pattern : pattern.lowercased())
        self.caseSensitive = caseSensitive
    }

    func matches(_ text: String) -> Bool {
        let text = Array(caseSensitive ? text : text.lowercased())
        // Two-pointer matching with backtracking to the last `%`: linear in practice, never exponential.
        var t = 0
        var p = 0
        var star = -1
        var mark = 0
        while t < text.count {
            if p < pattern.count, pattern[p] == "_" || (pattern[p] != "%" && pattern[p] == text[t]) {
                t += 1
                p += 1
            } else if p < pattern.count, pattern[p] == "%" {
                star = p
                mark = t
                p += 1
            } else if star >= 0 {
                p = star + 1
                mark += 1
                t = mark
            } else {
                return false
            }
        }
        while p < pattern.count, pattern[p] == "%" { p += 1 }
        return p == pattern.count
    }
}

public typealias RunFilter = SearchFilter<RunSearchFields>
public typealias ExperimentFilter = SearchFilter<ExperimentSearchFields>
public typealias RegistryFilter = SearchFilter<RegistrySearchFields>

/// Reads MLflow's search strings token by token: keys (`metrics.acc`, ``metrics.`my metric` ``), quoted
/// strings, numbers, comparators, `AND`, `IN (…)`, `NOT IN`, `IS [NOT] NULL`. Keywords are case-insensitive.
struct SearchParser {
    enum Token: Equatable {
        case word(String)
        case quoted(String)
        case backquoted(String)
        case number(Double, String)
        case symbol(String)
    }

    private let characters: [Character]
    private var position = 0
    private var peeked: (token: Token, start: Int, end: Int)?

    init(text: String) {
        characters = Array(text)
        skipSpace()
    }

    var atEnd: Bool {
        var copy = self
        return (try? copy.peek()) == nil
    }

    // MARK: Grammar

    mutating func comparison<Subject: SearchSubject>(_ subject: Subject.Type) throws -> SearchFilter<Subject>.Comparison {
        let (key, keyStart) = try self.key(subject)
        guard let (token, start, _) = try next() else {
            throw SearchSyntaxError("the filter ends after '\(key.name)' (position \(keyStart)); expected a comparator")
        }
        let comparator: String
        switch token {
        case .symbol(let symbol): comparator = symbol == "<>" ? "!=" : symbol
        case .word(let word):
            switch word.uppercased() {
            case "LIKE", "ILIKE": comparator = word.uppercased()
            case "IN": return .oneOf(key, try list(for: key), negated: false)
            case "NOT":
                guard case .word(let next)? = try self.next()?.token, next.uppercased() == "IN" else {
                    throw SearchSyntaxError("expected IN after NOT at position \(start)")
                }
                return .oneOf(key, try list(for: key), negated: true)
            case "IS":
                var negated = false
                var word = try self.next()?.token
                if case .word(let text)? = word, text.uppercased() == "NOT" {
                    negated = true
                    word = try self.next()?.token
                }
                guard case .word(let null)? = word, null.uppercased() == "NULL" else {
                    throw SearchSyntaxError("expected NULL after IS at position \(start)")
                }
                guard key.kind != .attribute, key.kind != .dataset else {
                    throw SearchSyntaxError("IS NULL applies to metrics, params and tags, not to '\(key.name)'")
                }
                return .isNull(key, negated: negated)
            default:
                throw SearchSyntaxError("invalid comparator '\(word)' at position \(start)")
            }
        default:
            throw SearchSyntaxError("expected a comparator after '\(key.name)' at position \(start)")
        }
        let numeric = Self.isNumeric(key, subject)
        let allowed = numeric ? ["=", "!=", ">", ">=", "<", "<="] : ["=", "!=", "LIKE", "ILIKE"]
        guard allowed.contains(comparator) else {
            throw SearchSyntaxError(
                "invalid comparator '\(comparator)' for \(key.kind.rawValue) '\(key.name)' at position \(start); expected one of \(allowed.joined(separator: ", "))"
            )
        }
        guard let (value, valueStart, _) = try next() else {
            throw SearchSyntaxError("the filter ends after '\(comparator)' (position \(start)); expected a value")
        }
        switch value {
        case .number(let number, let text):
            if !numeric { throw SearchSyntaxError("the value \(text) at position \(valueStart) must be a quoted string for '\(key.name)'") }
            return .compare(key, comparator, .number(number))
        case .quoted(let text):
            if numeric {
                guard let number = Double(text) else {
                    throw SearchSyntaxError("'\(text)' at position \(valueStart) is not a number; \(key.kind.rawValue) '\(key.name)' is numeric")
                }
                return .compare(key, comparator, .number(number))
            }
            return .compare(key, comparator, .string(text))
        default:
            throw SearchSyntaxError("expected a value (a number or a quoted string) at position \(valueStart)")
        }
    }

    /// `AND` between comparisons; `false` at the end. - Throws: on anything else.
    mutating func andKeyword() throws -> Bool {
        guard let (token, start, _) = try next() else { return false }
        guard case .word(let word) = token, word.uppercased() == "AND" else {
            if case .word(let word) = token, word.uppercased() == "OR" {
                throw SearchSyntaxError("OR is not supported (position \(start)); combine comparisons with AND")
            }
            throw SearchSyntaxError("expected AND at position \(start)")
        }
        return true
    }

    mutating func expectEnd() throws {
        if let (_, start, _) = try next() { throw SearchSyntaxError("unexpected text at position \(start)") }
    }

    /// A key: `prefix.name`, a back-quoted or quoted name after the prefix, or a bare attribute name.
    mutating func key<Subject: SearchSubject>(_ subject: Subject.Type) throws -> (SearchKey, Int) {
        guard let (token, start, _) = try next() else { throw SearchSyntaxError("expected a key such as metrics.acc") }
        let text: String
        switch token {
        case .word(let word): text = word
        case .backquoted(let word): text = word
        default: throw SearchSyntaxError("expected a key (such as metrics.acc or params.lr) at position \(start)")
        }
        var kind: SearchKey.Kind?
        var name = text
        if let dot = text.firstIndex(of: ".") {
            let prefix = text[..<dot].lowercased()
            kind = Self.prefixes[prefix]
            if kind != nil {
                name = String(text[text.index(after: dot)...])
                if name.isEmpty, let quoted = try nextIfQuotedName() { name = quoted }
            }
        }
        if kind == nil {
            guard let bare = Subject.bareKeyKind else {
                throw SearchSyntaxError("invalid key '\(text)' at position \(start): prefix it with metrics., params., tags. or attributes.")
            }
            kind = bare
            name = text
        }
        guard let kind, Subject.allowedKinds.contains(kind) else {
            throw SearchSyntaxError("'\(text)' at position \(start) cannot be searched here")
        }
        guard !name.isEmpty else { throw SearchSyntaxError("the key at position \(start) has no name") }
        if kind == .attribute {
            let canonical = Self.attributeAliases[name] ?? name
            guard Subject.attributes[canonical] != nil else {
                throw SearchSyntaxError(
                    "invalid attribute '\(name)' at position \(start); valid attributes are \(Subject.attributes.keys.sorted().joined(separator: ", "))"
                )
            }
            name = canonical
        }
        if kind == .dataset, !["name", "digest", "context"].contains(name) {
            throw SearchSyntaxError("invalid dataset key '\(name)' at position \(start); use datasets.name, datasets.digest or datasets.context")
        }
        return (SearchKey(kind: kind, name: name), start)
    }

    /// `('a', 'b')` after IN.
    private mutating func list(for key: SearchKey) throws -> [String] {
        guard key.kind == .attribute || key.kind == .dataset || key.kind == .param || key.kind == .tag else {
            throw SearchSyntaxError("IN applies to strings, not to metric '\(key.name)'")
        }
        guard case .symbol("(")? = try next()?.token else { throw SearchSyntaxError("expected '(' after IN") }
        var values: [String] = []
        while true {
            guard let (token, start, _) = try next() else { throw SearchSyntaxError("the IN list is not closed") }
            switch token {
            case .quoted(let text): values.append(text)
            case .number(_, let text): values.append(text)
            default: throw SearchSyntaxError("expected a quoted value in the IN list at position \(start)")
            }
            guard let (separator, at, _) = try next() else { throw SearchSyntaxError("the IN list is not closed") }
            if separator == .symbol(")") { break }
            guard separator == .symbol(",") else { throw SearchSyntaxError("expected ',' or ')' at position \(at)") }
        }
        return values
    }

    private mutating func nextIfQuotedName() throws -> String? {
        guard let (token, _, _) = try peek() else { return nil }
        switch token {
        case .quoted(let text), .backquoted(let text):
            peeked = nil
            return text
        default: return nil
        }
    }

    static func isNumeric<Subject: SearchSubject>(_ key: SearchKey, _ subject: Subject.Type) -> Bool {
        switch key.kind {
        case .metric: true
        case .attribute: Subject.attributes[key.name] ?? false
        default: false
        }
    }

    static let prefixes: [String: SearchKey.Kind] = [
        "metrics": .metric, "metric": .metric, "params": .param, "param": .param, "parameters": .param, "parameter": .param,
        "tags": .tag, "tag": .tag, "attributes": .attribute, "attribute": .attribute, "attr": .attribute, "run": .attribute,
        "datasets": .dataset, "dataset": .dataset,
    ]

    static let attributeAliases = ["created": "start_time", "Created": "start_time", "run_uuid": "run_id"]

    // MARK: Tokens

    mutating func next() throws -> (token: Token, start: Int, end: Int)? {
        if let peeked {
            self.peeked = nil
            return peeked
        }
        return try scan()
    }

    mutating func peek() throws -> (token: Token, start: Int, end: Int)? {
        if peeked == nil { peeked = try scan() }
        return peeked
    }

    private mutating func skipSpace() {
        while position < characters.count, characters[position].isWhitespace { position += 1 }
    }

    private mutating func scan() throws -> (token: Token, start: Int, end: Int)? {
        skipSpace()
        guard position < characters.count else { return nil }
        let start = position
        let character = characters[position]
        defer { skipSpace() }
        if character == "'" || character == "\"" || character == "`" {
            position += 1
            var text = ""
            while position < characters.count, characters[position] != character {
                text.append(characters[position])
                position += 1
            }
            guard position < characters.count else { throw SearchSyntaxError("the quote opened at position \(start) is not closed") }
            position += 1
            if character == "`" {
                return (.backquoted(text), start, position)
            }
            return (.quoted(text), start, position)
        }
        if "=!<>".contains(character) {
            var symbol = String(character)
            position += 1
            if position < characters.count, characters[position] == "=" || (character == "<" && characters[position] == ">") {
                symbol.append(characters[position])
                position += 1
            }
            guard symbol != "!" else { throw SearchSyntaxError("'!' at position \(start) must be followed by '='") }
            if position < characters.count, "=!<>".contains(characters[position]) {
                throw SearchSyntaxError("invalid comparator '\(symbol)\(characters[position])' at position \(start)")
            }
            return (.symbol(symbol), start, position)
        }
        if character == "(" || character == ")" || character == "," {
            position += 1
            return (.symbol(String(character)), start, position)
        }
        if character.isNumber
            || ((character == "-" || character == "+" || character == ".") && position + 1 < characters.count
                && (characters[position + 1].isNumber || characters[position + 1] == "."))
        {
            var text = String(character)
            position += 1
            while position < characters.count,
                characters[position].isNumber || "eE.".contains(characters[position])
                    || ("+-".contains(characters[position]) && "eE".contains(text.last ?? " "))
            {
                text.append(characters[position])
                position += 1
            }
            guard let number = Double(text), number.isFinite else { throw SearchSyntaxError("'\(text)' at position \(start) is not a number") }
            return (.number(number, text), start, position)
        }
        if character.isLetter || character == "_" {
            var text = ""
            while position < characters.count {
                let c = characters[position]
                if c.isLetter || c.isNumber || c == "_" || c == "." || c == "-" || c == ":" || c == "/" {
                    text.append(c)
                    position += 1
                } else if c == "`" || c == "\"", text.hasSuffix(".") {
                    // metrics.`my metric`: the quoted name belongs to the key.
                    let quote = c
                    position += 1
                    while position < characters.count, characters[position] != quote {
                        text.append(characters[position])
                        position += 1
                    }
                    guard position < characters.count else { throw SearchSyntaxError("the quote opened at position \(start) is not closed") }
                    position += 1
                    break
                } else {
                    break
                }
            }
            return (.word(text), start, position)
        }
        throw SearchSyntaxError("unexpected character '\(character)' at position \(start)")
    }
}

import Foundation

/// MLflow's `order_by`: keys with `ASC` or `DESC`. Subjects missing a key's value sort after those that
/// have one, whichever the direction; ties fall back to the subject's default order.
public struct SearchOrdering<Subject: SearchSubject & DefaultOrdered>: Sendable {
    struct Item: Sendable {
        var key: SearchKey
        var ascending: Bool
    }

    let items: [Item]

    /// Parses items such as `metrics.acc DESC`, `params.lr`, `attributes.start_time ASC`.
    public static func parse(_ orderBy: [String]) throws -> SearchOrdering {
        var items: [Item] = []
        for text in orderBy where !text.trimmingCharacters(in: .whitespaces).isEmpty {
            var parser = SearchParser(text: text)
            let (key, _) = try parser.key(Subject.self)
            var ascending = true
            if let (token, start, _) = try parser.next() {
                guard case .word(let word) = token, ["ASC", "DESC"].contains(word.uppercased()) else {
                    throw SearchSyntaxError("invalid order_by '\(text)': expected ASC or DESC at position \(start)")
                }
                ascending = word.uppercased() == "ASC"
            }
            try parser.expectEnd()
            items.append(Item(key: key, ascending: ascending))
        }
        return SearchOrdering(items: items)
    }

    /// The keys the ordering reads (beyond the subject's default order).
    public var keys: Set<SearchKey> { Set(items.map(\.key)) }

    /// `elements` in this order, reading each one's subject through `subject`.
    public func sorted<Element>(_ elements: [Element], by subject: (Element) -> Subject) -> [Element] {
        let keyed = elements.map { (element: $0, subject: subject($0)) }
        return keyed.sorted { a, b in
            for item in items {
                let x = a.subject.value(for: item.key)
                let y = b.subject.value(for: item.key)
                let (xMissing, yMissing) = (Self.isMissing(x), Self.isMissing(y))
                if xMissing && yMissing { continue }
                if xMissing != yMissing { return yMissing }
                let order = Self.compare(x, y)
                if order == .orderedSame { continue }
                return item.ascending ? order == .orderedAscending : order == .orderedDescending
            }
            return Subject.defaultOrder(a.subject, b.subject)
        }.map(\.element)
    }

    static func isMissing(_ value: SearchValue?) -> Bool {
        if case .number(let number)? = value { return number.isNaN }
        return value == nil
    }

    /// Present values before missing ones (NaN counts as missing); then numbers by value, strings by text.
    static func compare(_ a: SearchValue?, _ b: SearchValue?) -> ComparisonOrder {
        switch (isMissing(a), isMissing(b)) {
        case (true, true): return .orderedSame
        case (false, true): return .orderedAscending
        case (true, false): return .orderedDescending
        default: break
        }
        switch (a!, b!) {
        case (.number(let x), .number(let y)): return x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
        default:
            let x = SearchFilter<Subject>.strings(a!).first ?? ""
            let y = SearchFilter<Subject>.strings(b!).first ?? ""
            return x < y ? .orderedAscending : x > y ? .orderedDescending : .orderedSame
        }
    }
}

/// The order of a search when `order_by` does not decide.
public protocol DefaultOrdered {
    static func defaultOrder(_ a: Self, _ b: Self) -> Bool
}

/// The result of comparing two values.
public enum ComparisonOrder: Sendable {
    case orderedAscending
    case orderedSame
    case orderedDescending
}

public typealias RunOrdering = SearchOrdering<RunSearchFields>
public typealias ExperimentOrdering = SearchOrdering<ExperimentSearchFields>
public typealias RegistryOrdering = SearchOrdering<RegistrySearchFields>

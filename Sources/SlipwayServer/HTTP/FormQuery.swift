import Foundation
import Hummingbird

/// A request's query string decoded the way HTML forms (and Python's `requests`) encode it: `+` is a space,
/// then percent-decoding. Hummingbird's own query parameters leave `+` alone, which turns a filter typed
/// into a search box (`params.optimizer = 'adam'`) into nonsense.
struct FormQuery: Sendable {
    /// Every name and value, in order, repeated names included.
    var pairs: [(String, String)]

    init(_ request: Request) {
        guard let query = request.uri.query, !query.isEmpty else {
            pairs = []
            return
        }
        pairs = query.split(separator: "&").map { pair in
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            return (Self.decode(parts[0]), parts.count > 1 ? Self.decode(parts[1]) : "")
        }
    }

    /// The first value of `name`.
    subscript(_ name: String) -> String? { pairs.first { $0.0 == name }?.1 }

    /// Every value of `name`, in order.
    func all(_ name: String) -> [String] { pairs.filter { $0.0 == name }.map(\.1) }

    private static func decode(_ text: Substring) -> String {
        let spaced = text.replacingOccurrences(of: "+", with: " ")
        return spaced.removingPercentEncoding ?? spaced
    }
}

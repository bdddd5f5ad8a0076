import Foundation
import Hummingbird
import SlipwayStore

/// The fields of an `application/x-www-form-urlencoded` body.
struct FormBody: Sendable {
    var fields: [String: String]

    subscript(_ name: String) -> String? { fields[name] }

    /// The trimmed value of `name`, or `nil` when missing or blank.
    func text(_ name: String) -> String? {
        guard let value = fields[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// Reads and parses the request body (bounded by the context's body limit).
    static func read(_ request: Request, context: AppRequestContext) async throws -> FormBody {
        let buffer = try await request.body.collect(upTo: context.maxBodyBytes)
        let fields = parse(String(buffer: buffer))
        if fields.contains(where: { $0.key.contains("\0") || $0.value.contains("\0") }) {
            throw APIError.badRequest("invalid_field", "form fields must not contain NUL characters")
        }
        return FormBody(fields: fields)
    }

    /// Parses `a=1&b=two+words`; later duplicates win.
    static func parse(_ text: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in text.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            func decode(_ part: Substring) -> String {
                String(part).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? String(part)
            }
            guard let key = parts.first.map(decode), !key.isEmpty else { continue }
            fields[key] = parts.count > 1 ? decode(parts[1]) : ""
        }
        return fields
    }
}

extension FormBody {
    /// Checks the form's `_csrf` field against the session's token. - Throws: 403 `csrf_failed`.
    func requireCSRF(_ caller: Caller) throws {
        guard case .session(let session) = caller.credential,
            let sent = fields["_csrf"], SecretGenerator.constantTimeEquals(sent, session.csrfToken)
        else {
            throw APIError(
                .forbidden, code: "csrf_failed", "the form was not sent from this session's page (CSRF check failed); reload the page and try again")
        }
    }
}

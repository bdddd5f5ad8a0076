import Foundation
import Hummingbird
import NIOCore
import NIOFoundationCompat
import SlipwayDomain

extension Request {
    /// Decodes the JSON body as `T`, answering every malformed body with a 400 that says what is wrong.
    /// - Parameter empty: what an empty body means; without it, an empty body is refused.
    func decodeJSON<T: Decodable>(_ type: T.Type, context: AppRequestContext, empty: T? = nil) async throws -> T {
        let buffer = try await body.collect(upTo: context.maxBodyBytes)
        guard buffer.readableBytes > 0 else {
            if let empty { return empty }
            throw APIError.badRequest("invalid_json", "the request body is empty; send a JSON object")
        }
        if Self.containsEscapedNUL(buffer.readableBytesView) {
            throw APIError.badRequest("invalid_field", "text fields must not contain NUL characters (\\u0000)")
        }
        do {
            return try APICoding.decoder().decode(T.self, from: buffer)
        } catch let error as DecodingError {
            throw APIError.describing(error)
        }
    }
}

extension Request {
    /// Whether a JSON text holds the escape `\u0000` (a NUL character, which no Slipway text may contain).
    static func containsEscapedNUL(_ bytes: some Collection<UInt8>) -> Bool {
        var iterator = bytes.makeIterator()
        while let byte = iterator.next() {
            guard byte == UInt8(ascii: "\\") else { continue }
            guard let escaped = iterator.next() else { return false }
            guard escaped == UInt8(ascii: "u") else { continue }
            var digits: [UInt8] = []
            while digits.count < 4, let digit = iterator.next() { digits.append(digit) }
            if digits == Array("0000".utf8) { return true }
        }
        return false
    }
}

extension APIError {
    /// A 400 describing a JSON decoding failure in terms of the request's fields.
    static func describing(_ error: DecodingError) -> APIError {
        func path(_ codingPath: [any CodingKey], _ last: (any CodingKey)? = nil) -> String {
            let keys = (codingPath + (last.map { [$0] } ?? [])).map { key in
                key.intValue.map { "[\($0)]" } ?? snakeCase(key.stringValue)
            }
            return keys.joined(separator: ".").replacingOccurrences(of: ".[", with: "[")
        }
        switch error {
        case .keyNotFound(let key, let context):
            return .badRequest("missing_field", "field '\(path(context.codingPath, key))' is required")
        case .typeMismatch(_, let context) where context.codingPath.isEmpty:
            return .badRequest("invalid_json", "the request body must be a JSON object")
        case .typeMismatch(let type, let context):
            return .badRequest("invalid_field", "field '\(path(context.codingPath))' must be \(describe(type))")
        case .valueNotFound(let type, let context):
            return .badRequest("invalid_field", "field '\(path(context.codingPath))' must be \(describe(type)), not null")
        case .dataCorrupted(let context) where context.codingPath.isEmpty:
            return .badRequest("invalid_json", "the request body is not valid JSON")
        case .dataCorrupted(let context):
            return .badRequest("invalid_field", "field '\(path(context.codingPath))' has an invalid value: \(context.debugDescription)")
        @unknown default:
            return .badRequest("invalid_json", "the request body could not be read")
        }
    }

    private static func describe(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: "a string"
        case is Bool.Type: "true or false"
        case is Int.Type, is Int64.Type: "an integer"
        case is Double.Type: "a number"
        default: "a JSON \(String(describing: type).lowercased().contains("dictionary") ? "object" : "value of the right type")"
        }
    }

    private static func snakeCase(_ key: String) -> String {
        var result = ""
        for character in key {
            if character.isUppercase {
                if !result.isEmpty { result.append("_") }
                result.append(contentsOf: character.lowercased())
            } else {
                result.append(character)
            }
        }
        return result
    }
}

/// A response with a status other than 200 around an encodable value (201 for creations).
struct Created<Value: ResponseEncodable>: ResponseGenerator {
    var value: Value
    func response(from request: Request, context: some RequestContext) throws -> Response {
        var response = try value.response(from: request, context: context)
        response.status = .created
        return response
    }
}

import Foundation
import HTTPTypes
import Hummingbird
import SlipwayServer
import Testing

/// The OpenAPI document describes exactly the routes the router has.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    @Test func documentAndRouterAgreeOnEveryAPIRoute() async throws {
        try await TestDatabases.withFreshDatabase(.sqlite) { database, directory in
            let platform = try await Platform.open(TestPlatform.configuration(database, directory: directory), logger: TestDatabases.logger)
            let router = try await buildRouter(platform)
            try await platform.close()

            let routed = Set(
                router.routes.compactMap { route -> String? in
                    let path = Self.normalise(route.path.description)
                    return path.hasPrefix("/api/v1/") ? "\(route.method.rawValue) \(path)" : nil
                })
            let app = Application(router: router, logger: TestDatabases.logger)
            _ = app
            let document = try await TestPlatform.withAPI { api in
                try await api.request(.get, "/api/v1/openapi.json").json
            }
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            let documented = Set(paths.flatMap { path, operations in operations.keys.map { "\($0.uppercased()) \(path)" } })
            #expect(routed.subtracting(documented).isEmpty, "routes missing from the document: \(routed.subtracting(documented).sorted())")
            #expect(documented.subtracting(routed).isEmpty, "documented routes that do not exist: \(documented.subtracting(routed).sorted())")
            #expect(routed.count >= 25)

            // Every schema a path refers to is defined.
            let schemas = try #require((document["components"] as? [String: Any])?["schemas"] as? [String: Any])
            let text = String(decoding: try JSONSerialization.data(withJSONObject: document), as: UTF8.self)
            let references = text.components(separatedBy: "#/components/schemas/").dropFirst().map { String($0.prefix { $0 != "\"" }) }
            for reference in Set(references) {
                #expect(schemas[reference] != nil, "schema \(reference) is referenced but not defined")
            }
        }
    }

    /// `/a/:id` and `/a/{id}` both become `/a/{id}`.
    static func normalise(_ path: String) -> String {
        let trimmed = path.hasPrefix("/") ? path : "/" + path
        return trimmed.split(separator: "/", omittingEmptySubsequences: false).map { segment in
            segment.hasPrefix(":") ? "{\(segment.dropFirst())}" : String(segment)
        }.joined(separator: "/")
    }
}

import Foundation
import Hummingbird
import Mustache
import NIOCore

/// Renders the web UI's Mustache templates (shipped as resources of this module) into HTML responses.
struct PageRenderer: Sendable {
    let library: MustacheLibrary

    /// Loads every `.mustache` file from the module's `Templates` folder.
    static func load() async throws -> PageRenderer {
        guard let folder = Bundle.module.url(forResource: "Templates", withExtension: nil) else {
            throw WebSetupError(description: "the web UI templates are missing from the SlipwayServer resources")
        }
        return PageRenderer(library: try await MustacheLibrary(directory: folder.path))
    }

    /// The page `template` rendered with `page`.
    func render(_ template: String, _ page: some Any, status: HTTPResponse.Status = .ok) -> Response {
        let html = library.render(page, withTemplate: template) ?? "<h1>Missing template \(template)</h1>"
        return Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// The folder with the stylesheet.
    static var staticFolder: String? { Bundle.module.url(forResource: "Static", withExtension: nil)?.path }
}

struct WebSetupError: Error, CustomStringConvertible {
    var description: String
}

import Foundation

/// Where the CLI finds its server and token: `~/.config/slipway/config.json` (mode 0600),
/// overridden by `SLIPWAY_URL` and `SLIPWAY_TOKEN`.
struct ClientConfiguration: Codable {
    var url: String
    var token: String

    static var file: URL {
        let home =
            ProcessInfo.processInfo.environment["HOME"].map { URL(fileURLWithPath: $0) }
            ?? FileManager.default.homeDirectoryForCurrentUser
        if let xdg = ProcessInfo.processInfo.environment["XDG_CONFIG_HOME"], !xdg.isEmpty {
            return URL(fileURLWithPath: xdg).appendingPathComponent("slipway/config.json")
        }
        return home.appendingPathComponent(".config/slipway/config.json")
    }

    /// The saved configuration with environment overrides applied.
    static func load() throws -> ClientConfiguration {
        let environment = ProcessInfo.processInfo.environment
        var saved: ClientConfiguration?
        if let data = try? Data(contentsOf: file) {
            saved = try? JSONDecoder().decode(ClientConfiguration.self, from: data)
        }
        guard let url = environment["SLIPWAY_URL"].flatMap({ $0.isEmpty ? nil : $0 }) ?? saved?.url,
            let token = environment["SLIPWAY_TOKEN"].flatMap({ $0.isEmpty ? nil : $0 }) ?? saved?.token
        else {
            throw CLIError("not logged in: run 'slipway login --url URL' (or set SLIPWAY_URL and SLIPWAY_TOKEN)")
        }
        return ClientConfiguration(url: url, token: token)
    }

    /// Writes the file readable by its owner only.
    func save() throws {
        let file = Self.file
        try FileManager.default.createDirectory(
            at: file.deletingLastPathComponent(), withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700])
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let data = try encoder.encode(self)
        // Create with 0600 before writing the secret, so it is never readable by others.
        FileManager.default.createFile(atPath: file.path, contents: nil, attributes: [.posixPermissions: 0o600])
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: file.path)
        let handle = try FileHandle(forWritingTo: file)
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: data)
        try handle.close()
    }
}

/// A failure the CLI reports as one line on stderr with a non-zero exit.
struct CLIError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

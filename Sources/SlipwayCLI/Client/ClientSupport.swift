import ArgumentParser
import Foundation
import SlipwayClient
import SlipwayDomain

/// How client commands print their results.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
    case table
    case json
}

/// Options every client command shares.
struct ClientOptions: ParsableArguments {
    @Option(name: [.short, .long], help: "Output format: table or json.")
    var output: OutputFormat = .table

    /// A client for the configured server and token.
    func client() throws -> SlipwayAPIClient {
        let configuration = try ClientConfiguration.load()
        return SlipwayAPIClient(baseURL: configuration.url, token: configuration.token)
    }

    /// Prints `value` as JSON, or as a table of `rows` under `headers`.
    func print<T: Encodable>(_ value: T, headers: [String], rows: [[String]]) throws {
        switch output {
        case .json:
            let encoder = APICoding.encoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            Swift.print(String(decoding: try encoder.encode(value), as: UTF8.self))
        case .table:
            Swift.print(Table(headers: headers, rows: rows).rendered)
        }
    }
}

/// A plain-text table with aligned columns.
struct Table {
    var headers: [String]
    var rows: [[String]]

    var rendered: String {
        let all = [headers] + rows
        let widths = headers.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            cells.enumerated().map { index, cell in
                index == cells.count - 1 ? cell : cell.padding(toLength: widths[index], withPad: " ", startingAt: 0)
            }.joined(separator: "  ")
        }
        if rows.isEmpty { return line(headers) + "\n(none)" }
        return ([line(headers)] + rows.map(line)).joined(separator: "\n")
    }
}

/// Runs a client command body, turning API failures into one clear line on stderr and exit code 1.
func runClient(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as APIClientError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

/// Reads a password from stdin (one line) or, on a terminal, from a hidden prompt.
func readPassword(fromStdin: Bool, prompt: String) throws -> String {
    if fromStdin {
        guard let line = Swift.readLine(strippingNewline: true), !line.isEmpty else { throw CLIError("no password on standard input") }
        return line
    }
    guard isatty(STDIN_FILENO) == 1 else { throw CLIError("no terminal to ask for the password; use --password-stdin") }
    guard let entered = getpass(prompt) else { throw CLIError("could not read the password") }
    return String(cString: entered)
}

/// Splits `namespace/project`.
func splitProjectPath(_ text: String) throws -> (namespace: String, project: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
        throw CLIError("'\(text)' is not NAMESPACE/PROJECT")
    }
    return (String(parts[0]), String(parts[1]))
}

extension Date {
    /// The date as shown in tables.
    var shortText: String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withFullDate, .withTime, .withColonSeparatorInTime, .withSpaceBetweenDateAndTime]
        return formatter.string(from: self)
    }
}

import Crypto
import Foundation

/// SHA-256 of `text` as lowercase hex, computed independently of the server's code.
func sha256Hex(_ text: String) -> String {
    SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
}

/// SHA-256 of `data` as lowercase hex.
func sha256HexData(_ data: Data) -> String {
    SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined()
}

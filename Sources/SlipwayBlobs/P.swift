import Crypto
import _NIOFileSystem

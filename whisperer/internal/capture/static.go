//go:build pcapstatic

package capture

// A static build links Debian's libpcap.a, whose D-Bus capture source pulls in
// libdbus-1.a, which references two functions of libsystemd for socket activation (a
// D-Bus server's concern, never reached by a capture client). Debian ships no static
// libsystemd, so these stand in for them.

/*
#cgo LDFLAGS: -lpcap -ldbus-1
int sd_listen_fds(int unset_environment) { (void)unset_environment; return 0; }
int sd_is_socket(int fd, int family, int type, int listening) { (void)fd; (void)family; (void)type; (void)listening; return 0; }
*/
import "C"

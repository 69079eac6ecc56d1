# Allocates far past the sandbox's address-space limit.
hog = []
while True:
    hog.append(bytearray(256 * 1024 * 1024))

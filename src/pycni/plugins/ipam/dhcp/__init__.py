"""`dhcp` IPAM (package placeholder created by DHCP-B; DHCP-A fills in the declaration)."""

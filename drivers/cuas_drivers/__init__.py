"""Built-in sensor drivers; each uses only the public driver API in cuas.driver."""

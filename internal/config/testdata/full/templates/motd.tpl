Welcome to ${team} (${env})

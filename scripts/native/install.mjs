console.log("native install: not yet implemented")

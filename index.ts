import * as pulumi from "@pulumi/pulumi";
import { CampusConfigError } from "./components/config/campus";
import { campusProgram } from "./components/program";

// A config error is the user's to fix: show the list of problems, not a stack trace.
function main() {
  try {
    return campusProgram();
  } catch (e) {
    if (e instanceof CampusConfigError) throw new pulumi.RunError(e.message);
    throw e;
  }
}

export = main();

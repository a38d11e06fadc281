import { campusProgram } from "./components/program";

export = campusProgram();
